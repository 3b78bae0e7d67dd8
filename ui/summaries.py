"""Results for people: each lifecycle result as a few lines of Markdown, in English or French.

The API returns the raw result (a dict); the UI shows these lines and keeps the dict in a
collapsed "details" panel. The language follows the browser (``Accept-Language``). The
MLflow vocabulary (``jdd entrainement``, ``à valider``...) stays as SPEC names it.
"""

from __future__ import annotations

from typing import Any

TEXT = {
    "en": {
        "upload": "**Dataset “{name}”** recorded as {role} data: **{kept:,} rows kept**, "
                  "{dropped:,} dropped{why}. Balance: {pos:,} positive ({rate:.0%}), "
                  "{neg:,} negative.",
        "why": " ({reasons})", "training": "training", "validation": "validation",
        "trained": "**Version {version}** ({model_type}) trained in {seconds:.0f} s, "
                   "registered as *à valider*. On its held-out rows: balanced accuracy "
                   "**{bal:.3f}**, accuracy {acc:.3f}; recall {rneg:.0%} of negatives, "
                   "{rpos:.0%} of positives. Next: validate it.",
        "stopped": "**Stopped.** Nothing was registered; the run ended KILLED.",
        "passed": "**Version {version} passed** the gate: {metric} {score:.3f} ≥ {bar:.2f}.",
        "failed": "**Version {version} failed** the gate: {reasons}.",
        "versus": "Production (v{prod}) on the same data: {metric} {prod_score:.3f}.",
        "no_prod": "No production version to compare with.",
        "recall": "Recall: {rneg:.0%} of negatives, {rpos:.0%} of positives.",
        "promoted": "It was promoted: **v{version} now serves.**",
        "switched": "**Version {version} now serves**{was}.", "was": " (was v{previous})",
        "same": "Version {version} was already in production: nothing changed.",
        "forced": " Forced without a passed validation: recorded on the version.",
        "review": "**Dataset “{name}”** made from {rows:,} labelled rows of the review "
                  "queue: {kept:,} kept, {pos:,} positive, {neg:,} negative.",
        "answered": "Answered by **{model} v{version}** ({model_type}) in {ms:.1f} ms.",
        "no_datasets": "*No dataset yet: choose a labelled CSV above and upload it as "
                       "training or validation data.*",
        "no_models": "*No model version yet: the first start trains one in about a minute, "
                     "or train one in the Train tab.*",
        "no_review": "*Nothing to review: predictions appear here once served (the least "
                     "confident first) and when someone reports one wrong.*",
        "review_count": "{waiting} awaiting a label; {done} labelled, not yet in a dataset.",
        "progress": "**Training: {fraction:.0%}** - {message}",
        "stopping": "Stopping: the training stops at its next checkpoint and registers "
                    "nothing.",
        "no_predictions": "*No prediction served yet: analyse a text in the Predict tab and "
                          "it shows here.*",
        "monitor_admin": "*The Monitor tab shows other users' texts: sign in as the admin to "
                         "see it.*",
    },
    "fr": {
        "upload": "**Jeu de données « {name} »** enregistré pour {role} : **{kept:,} lignes "
                  "gardées**, {dropped:,} écartées{why}. Équilibre : {pos:,} positives "
                  "({rate:.0%}), {neg:,} négatives.",
        "why": " ({reasons})", "training": "l'entraînement", "validation": "la validation",
        "trained": "**Version {version}** ({model_type}) entraînée en {seconds:.0f} s, "
                   "enregistrée *à valider*. Sur ses lignes de contrôle : exactitude "
                   "équilibrée **{bal:.3f}**, exactitude {acc:.3f} ; rappel {rneg:.0%} des "
                   "négatifs, {rpos:.0%} des positifs. Étape suivante : la valider.",
        "stopped": "**Arrêté.** Rien n'a été enregistré ; le run est terminé KILLED.",
        "passed": "**La version {version} passe** le seuil : {metric} {score:.3f} ≥ {bar:.2f}.",
        "failed": "**La version {version} échoue** au seuil : {reasons}.",
        "versus": "Production (v{prod}) sur les mêmes données : {metric} {prod_score:.3f}.",
        "no_prod": "Aucune version en production à comparer.",
        "recall": "Rappel : {rneg:.0%} des négatifs, {rpos:.0%} des positifs.",
        "promoted": "Elle a été promue : **la v{version} est en service.**",
        "switched": "**La version {version} est en service**{was}.",
        "was": " (avant : v{previous})",
        "same": "La version {version} était déjà en production : rien n'a changé.",
        "forced": " Promotion forcée sans validation réussie : notée sur la version.",
        "review": "**Jeu de données « {name} »** créé à partir de {rows:,} lignes étiquetées "
                  "de la file de revue : {kept:,} gardées, {pos:,} positives, "
                  "{neg:,} négatives.",
        "answered": "Réponse de **{model} v{version}** ({model_type}) en {ms:.1f} ms.",
        "no_datasets": "*Aucun jeu de données : choisissez un CSV étiqueté ci-dessus et "
                       "importez-le pour l'entraînement ou la validation.*",
        "no_models": "*Aucune version de modèle : le premier démarrage en entraîne une en une "
                     "minute environ, ou entraînez-en une dans l'onglet Entraîner.*",
        "no_review": "*Rien à revoir : les prédictions apparaissent ici une fois servies (les "
                     "moins sûres d'abord) et quand quelqu'un en signale une fausse.*",
        "review_count": "{waiting} en attente d'étiquette ; {done} étiquetées, pas encore "
                        "dans un jeu de données.",
        "progress": "**Entraînement : {fraction:.0%}** - {message}",
        "stopping": "Arrêt demandé : l'entraînement s'arrête au prochain point de contrôle "
                    "et n'enregistre rien.",
        "no_predictions": "*Aucune prédiction servie : analysez un texte dans l'onglet "
                          "Prédire et elle apparaîtra ici.*",
        "monitor_admin": "*L'onglet Suivi montre les textes des autres utilisateurs : "
                         "connectez-vous en admin pour le voir.*",
    },
}


def language(accept_language: str | None) -> str:
    """``fr`` when the browser prefers French over English, else ``en``."""
    for part in str(accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in TEXT:
            return code
    return "en"


def _t(lang: str, key: str, **values: Any) -> str:
    return TEXT.get(lang, TEXT["en"])[key].format(**values)


def phrase(key: str, lang: str = "en", **values: Any) -> str:
    """One of the app's sentences (empty states, progress) in ``lang``."""
    return _t(lang, key, **values)


def upload(summary: dict[str, Any], lang: str = "en") -> str:
    """Rows kept and dropped (with the reasons) and the class balance of an ingestion."""
    dropped = summary.get("dropped") or {}
    reasons = ", ".join(f"{n:,} {why}" for why, n in dropped.items())
    return _t(lang, "upload", name=summary.get("name", summary.get("source", "")),
              role=_t(lang, summary.get("role", "training")),
              kept=int(summary.get("rows_kept", 0)), dropped=int(summary.get("rows_dropped", 0)),
              why=_t(lang, "why", reasons=reasons) if reasons else "",
              pos=int(summary.get("positive", 0)), neg=int(summary.get("negative", 0)),
              rate=float(summary.get("positive_rate", 0.0)))


def train(result: dict[str, Any], lang: str = "en") -> str:
    """What a training produced, on its held-out rows."""
    if result.get("status") == "stopped":
        return _t(lang, "stopped")
    m = result.get("metrics", {})
    return _t(lang, "trained", version=result["version"], model_type=result["model_type"],
              seconds=float(result.get("training_time_s", 0)),
              bal=m.get("val_balanced_accuracy", m.get("balanced_accuracy", 0.0)),
              acc=m.get("val_accuracy", m.get("accuracy", 0.0)),
              rneg=m.get("val_recall_negative", m.get("recall_negative", 0.0)),
              rpos=m.get("val_recall_positive", m.get("recall_positive", 0.0)))


def validate(result: dict[str, Any], lang: str = "en") -> str:
    """Pass or fail with the reason, production beside the candidate, per-class recall."""
    metric, m = result["gate_metric"], result["metrics"]
    lines = [_t(lang, "passed", version=result["version"], metric=metric, score=m[metric],
                bar=result["min_accuracy"]) if result["passed"] else
             _t(lang, "failed", version=result["version"], reasons="; ".join(result["reasons"]))]
    lines.append(_t(lang, "recall", rneg=m["recall_negative"], rpos=m["recall_positive"]))
    prod = result.get("production_metrics")
    if prod and result.get("production_version") not in (None, result["version"]):
        lines.append(_t(lang, "versus", prod=result["production_version"], metric=metric,
                        prod_score=prod[metric]))
    elif not result.get("production_version"):
        lines.append(_t(lang, "no_prod"))
    if result.get("promoted"):
        lines.append(_t(lang, "promoted", version=result["version"]))
    return "\n\n".join(lines)


def switch(result: dict[str, Any], lang: str = "en") -> str:
    """A promotion or rollback: which version serves now, and which served before."""
    if not result.get("changed", True):
        return _t(lang, "same", version=result["production_version"])
    previous = result.get("previous_version")
    text = _t(lang, "switched", version=result["production_version"],
              was=_t(lang, "was", previous=previous) if previous else "")
    return text + (_t(lang, "forced") if result.get("forced") else "")


def review_dataset(summary: dict[str, Any], lang: str = "en") -> str:
    """The training dataset made from the review queue's labels."""
    return _t(lang, "review", name=summary["name"], rows=int(summary["labelled_rows"]),
              kept=int(summary["rows_kept"]), pos=int(summary["positive"]),
              neg=int(summary["negative"]))
