FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 bot
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
COPY sandbox ./sandbox
COPY templates ./templates
# Editable: templates/ and the migrations are read from /app.
RUN pip install --no-cache-dir -e .

USER bot
VOLUME ["/data"]
WORKDIR /data
# Secrets come from the environment (INCIDENT_BOT_DISCORD_TOKEN, ...), never from the image.
ENTRYPOINT ["incident-bot"]
CMD ["run", "--config", "/data/incident-bot.toml"]
