"""After serving: the prediction store, its schema, alerts, the dashboard and the review queue."""
