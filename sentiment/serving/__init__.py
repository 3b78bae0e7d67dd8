"""Answering predictions: the model server that follows the production alias, the prediction
service, the fan-out over cores, batch scoring and its lane.
"""
