"""Models-from-code entry point: MLflow executes this file to build the logged model."""

from mlflow.models import set_model

from sentiment.models.pyfunc import SentimentModel

set_model(SentimentModel())
