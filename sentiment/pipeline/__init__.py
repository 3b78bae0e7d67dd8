"""From a dataset to production: train, validate, promote, the first start, the challenger, the
reports and the training jobs.
"""
