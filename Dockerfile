# Hugging Face Docker Space: port 7860, run as uid 1000, which owns its home and the app
# folder (the app writes ./.sentiment there when no bucket is mounted). With a storage
# bucket mounted at /data (at run time only), datasets and models go to /data/sentiment and
# the SQLite databases stay on the container's disk (./.sentiment-db), copied to
# /data/sentiment/sqlite-backup after each change and restored at start (docs/space.md).
# Tested as built and run: tests/e2e/test_image.py.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    HF_HUB_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH

# The user and its app folder, made by root and handed over (WORKDIR alone makes a folder
# owned by root, which the app cannot write).
RUN useradd --create-home --uid 1000 user \
    && install -d -o user -g user /home/user/app
USER 1000
WORKDIR /home/user/app

# Runtime dependencies only (no test tooling), in their own layer: cached while only the
# code changes.
COPY --chown=user requirements.txt requirements-nodeps.txt ./
RUN pip install --user --no-cache-dir -r requirements.txt \
    && pip install --user --no-cache-dir --no-deps -r requirements-nodeps.txt

COPY --chown=user . .

EXPOSE 7860
CMD ["python", "app.py"]
