# One image for every GridGov service; compose.yaml picks the service with its command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml alembic.ini ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
COPY tools ./tools
RUN useradd --system --uid 10001 gridgov
USER gridgov
EXPOSE 8000 8001 8002 8003
CMD ["python", "-m", "uvicorn", "services.registry.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8001"]
