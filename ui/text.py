"""The interface's words in English and French (``gr.I18n``: the browser's language picks).

Keys are used by ``app.py`` as ``t("key")``. Both languages must have the same keys
(tested). The MLflow vocabulary of SPEC (``jdd entrainement``, ``à valider``) is kept.
"""

from __future__ import annotations

import gradio as gr

EN = {
    "title": "# Tweet sentiment",
    "intro": "Positive or negative, with a confidence; and the whole model lifecycle: data, "
             "training, validation, promotion, review and monitoring.",
    "open_note": "**Open demo mode:** no admin password is set (`SENTIMENT_ADMIN_PASSWORD`), "
                 "so anyone who can reach this page may upload, train and promote.",
    "tab_predict": "Predict", "tab_data": "Data", "tab_train": "Train",
    "tab_validate": "Validate", "tab_models": "Models", "tab_review": "Review",
    "tab_monitor": "Monitor",
    "text": "Tweet or review", "analyse": "Analyse", "sentiment": "Sentiment",
    "details": "Details", "correct": "Correct", "wrong": "Wrong",
    "why": "Why this label?", "explain": "Explain",
    "words": "Words that pushed the prediction (red: towards positive, blue: towards negative)",
    "batch": "Batch: classify a CSV file", "batch_in": "CSV with a text column",
    "classify": "Classify file", "results_csv": "Results (CSV)", "summary": "Summary",
    "preview": "Preview",
    "training_csv": "Training CSV", "validation_csv": "Validation CSV",
    "dataset_name": "Name (default: the file name)",
    "upload_training": "Upload training data", "upload_validation": "Upload validation data",
    "balance": "Class balance", "cleaned": "Preview of the cleaned rows",
    "refresh": "Refresh", "datasets": "Ingested datasets",
    "model_type": "Model type", "training_dataset": "Training dataset",
    "base_version": "Start from version (optional)", "hyper": "Hyperparameters",
    "hyper_json": "Hyperparameters as JSON (what the API receives)",
    "train": "Train", "stop": "Stop", "epochs": "Metrics per epoch",
    "confusion": "Confusion matrix (held-out rows)",
    "version": "Version", "validation_datasets": "Validation datasets (one or several)",
    "min_accuracy": "Quality bar (on the gate metric)", "auto_promote": "Promote if it passes",
    "validate": "Validate", "side_by_side": "Side by side with production (same data)",
    "curves": "Confusion matrices, ROC and precision-recall curves",
    "versions": "Model versions", "force": "Force (promote without validation)",
    "promote": "Promote", "rollback": "Rollback", "mlflow": "Open MLflow (admin)",
    "review_intro": "Predictions that most need a human label: those reported wrong first, "
                    "then the least confident. Click a row, then its true label.",
    "queue": "Awaiting a label", "selected": "Selected prediction", "positive": "Positive",
    "negative": "Negative", "new_name": "Name of the new training dataset",
    "to_dataset": "Make a training dataset of the labelled rows",
    "volume": "Predictions per minute", "latency": "Mean latency (ms)",
    "mix": "Positive rate", "accuracy": "Accuracy from feedback, per model version",
    "drift": "Drift vs the production model's validation data",
    "alerts": "Latest alerts", "wrong_preds": "Latest wrong predictions",
    "export_log": "Export prediction log (CSV)",
    "export_corrections": "Export corrections as training CSV", "export": "Export",
    "raw": "Details (raw result, as the API returns it)",
    "buzz": "Bad buzz: the negative share, the usual band, and alerts",
    "buzz_intro": "Each point is the negative share of one window; the band is the usual share "
                  "(the day before) give or take two standard errors; a red line is a bad-buzz "
                  "alert. Click an alert for what people are angry about.",
    "buzz_alerts": "Bad-buzz alerts", "buzz_detail": "The buzz: words and examples",
    "triage": "Triage: the unhappiest customers first",
    "triage_intro": "Texts predicted negative in the last day, most confident first. Click a "
                    "row, answer the customer, then mark it handled.",
    "triage_list": "To answer", "mark_handled": "Mark handled",
    "tab_api": "API",
    "api_intro": "Programs call `/api/v1/` with `Authorization: Bearer <token>` (docs at "
                 "[/api/v1/docs](/api/v1/docs)). A token's secret is shown once, here; only "
                 "its hash is kept.",
    "token_name": "Token name", "token_role": "Role", "token_expires": "Expires after (days, "
    "0: never)", "token_create": "Create token", "token_revoke": "Revoke",
    "tokens": "API tokens", "token_secret": "The new token (copy it now: it is not shown again)",
}

FR = {
    "title": "# Sentiment des tweets",
    "intro": "Positif ou négatif, avec une confiance ; et tout le cycle de vie du modèle : "
             "données, entraînement, validation, promotion, revue et suivi.",
    "open_note": "**Mode démo ouvert :** aucun mot de passe admin n'est défini "
                 "(`SENTIMENT_ADMIN_PASSWORD`) : quiconque atteint cette page peut importer, "
                 "entraîner et promouvoir.",
    "tab_predict": "Prédire", "tab_data": "Données", "tab_train": "Entraîner",
    "tab_validate": "Valider", "tab_models": "Modèles", "tab_review": "Revue",
    "tab_monitor": "Suivi",
    "text": "Tweet ou avis", "analyse": "Analyser", "sentiment": "Sentiment",
    "details": "Détails", "correct": "Juste", "wrong": "Faux",
    "why": "Pourquoi cette étiquette ?", "explain": "Expliquer",
    "words": "Mots qui ont poussé la prédiction (rouge : vers positif, bleu : vers négatif)",
    "batch": "Par lot : classer un fichier CSV", "batch_in": "CSV avec une colonne de texte",
    "classify": "Classer le fichier", "results_csv": "Résultats (CSV)", "summary": "Résumé",
    "preview": "Aperçu",
    "training_csv": "CSV d'entraînement", "validation_csv": "CSV de validation",
    "dataset_name": "Nom (par défaut : le nom du fichier)",
    "upload_training": "Importer les données d'entraînement",
    "upload_validation": "Importer les données de validation",
    "balance": "Équilibre des classes", "cleaned": "Aperçu des lignes nettoyées",
    "refresh": "Actualiser", "datasets": "Jeux de données importés",
    "model_type": "Type de modèle", "training_dataset": "Jeu d'entraînement",
    "base_version": "Partir de la version (facultatif)", "hyper": "Hyperparamètres",
    "hyper_json": "Hyperparamètres en JSON (ce que reçoit l'API)",
    "train": "Entraîner", "stop": "Arrêter", "epochs": "Métriques par époque",
    "confusion": "Matrice de confusion (lignes de contrôle)",
    "version": "Version", "validation_datasets": "Jeux de validation (un ou plusieurs)",
    "min_accuracy": "Seuil de qualité (sur la métrique du seuil)",
    "auto_promote": "Promouvoir si elle passe",
    "validate": "Valider", "side_by_side": "Face à la production (mêmes données)",
    "curves": "Matrices de confusion, courbes ROC et précision-rappel",
    "versions": "Versions du modèle", "force": "Forcer (promouvoir sans validation)",
    "promote": "Promouvoir", "rollback": "Revenir en arrière",
    "mlflow": "Ouvrir MLflow (admin)",
    "review_intro": "Les prédictions qui ont le plus besoin d'une étiquette humaine : d'abord "
                    "celles signalées fausses, puis les moins sûres. Cliquez une ligne, puis "
                    "sa vraie étiquette.",
    "queue": "En attente d'étiquette", "selected": "Prédiction choisie",
    "positive": "Positif", "negative": "Négatif",
    "new_name": "Nom du nouveau jeu d'entraînement",
    "to_dataset": "Faire un jeu d'entraînement des lignes étiquetées",
    "volume": "Prédictions par minute", "latency": "Latence moyenne (ms)",
    "mix": "Part de positifs", "accuracy": "Exactitude d'après les retours, par version",
    "drift": "Dérive par rapport aux données de validation du modèle en production",
    "alerts": "Dernières alertes", "wrong_preds": "Dernières prédictions fausses",
    "export_log": "Exporter le journal des prédictions (CSV)",
    "export_corrections": "Exporter les corrections en CSV d'entraînement",
    "export": "Export", "raw": "Détails (résultat brut, tel que l'API le renvoie)",
    "buzz": "Bad buzz : la part de négatifs, la bande habituelle et les alertes",
    "buzz_intro": "Chaque point est la part de textes négatifs d'une fenêtre ; la bande est la "
                  "part habituelle (la veille) à deux écarts-types près ; une ligne rouge est "
                  "une alerte. Cliquez une alerte pour voir ce qui fâche les clients.",
    "buzz_alerts": "Alertes de bad buzz", "buzz_detail": "Le buzz : mots et exemples",
    "triage": "Tri : les clients les plus mécontents d'abord",
    "triage_intro": "Textes jugés négatifs depuis un jour, les plus sûrs d'abord. Cliquez une "
                    "ligne, répondez au client, puis marquez-la traitée.",
    "triage_list": "À traiter", "mark_handled": "Marquer traité",
    "tab_api": "API",
    "api_intro": "Les programmes appellent `/api/v1/` avec `Authorization: Bearer <jeton>` "
                 "(documentation : [/api/v1/docs](/api/v1/docs)). Le secret d'un jeton est "
                 "montré une fois, ici ; seule son empreinte est gardée.",
    "token_name": "Nom du jeton", "token_role": "Rôle",
    "token_expires": "Expire après (jours, 0 : jamais)", "token_create": "Créer le jeton",
    "token_revoke": "Révoquer", "tokens": "Jetons d'API",
    "token_secret": "Le nouveau jeton (copiez-le : il ne sera plus montré)",
}

I18N = gr.I18n(en=EN, fr=FR)


def t(key: str) -> gr.I18nData:
    """The translatable text of ``key`` (a KeyError here is a missing translation)."""
    if key not in EN or key not in FR:
        raise KeyError(key)
    return I18N(key)
