-- The monitoring store and lifecycle locks of the replicas (MLflow uses 'mlflow').
CREATE DATABASE sentiment OWNER sentiment;
