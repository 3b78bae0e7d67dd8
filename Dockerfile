# Hugging Face Docker Space: port 7860, non-root user 1000. With a storage bucket mounted
# at /data, datasets and models are written to /data/sentiment and the SQLite databases
# live on the container's disk (./.sentiment-db), copied to /data/sentiment/sqlite-backup
# after each change and restored at start (README, "A Space that keeps its state").
# Without the bucket, everything is under ./.sentiment inside the app folder.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    MLFLOW_DISABLE_TELEMETRY=true

RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# Dependencies first, so this layer stays cached while only the code changes.
COPY --chown=user requirements.txt requirements-nodeps.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt

COPY --chown=user . .
USER 1000
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH

EXPOSE 7860
CMD ["python", "app.py"]
