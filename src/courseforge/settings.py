"""All configuration, from COURSEFORGE_* environment variables (and the vendors' own keys)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderName = Literal["auto", "openai", "anthropic", "local", "fake"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEFORGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///courseforge.db",
        description="SQLAlchemy URL; default: a SQLite file in the working directory",
    )

    db_pool_size: int = Field(
        default=20, ge=1, le=500, description="database connections per process (PostgreSQL)"
    )

    llm_provider: ProviderName = "auto"
    llm_base_url: str | None = Field(default=None, description="an OpenAI-compatible server")
    llm_api_key: str | None = Field(
        default=None, description="key for the OpenAI-compatible server"
    )
    model_complex: str | None = Field(default=None, description="model for lessons, tasks, quizzes")
    model_simple: str | None = Field(default=None, description="model for summaries and metadata")
    llm_concurrency: int = Field(default=64, ge=1, le=512)
    llm_tokens_per_minute: int | None = Field(
        default=None, ge=100, description="tokens per minute for all jobs of a process"
    )
    llm_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    llm_max_attempts: int = Field(default=3, ge=1, le=10)
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description='USD per million tokens: {"model": [input, output]}'
    )

    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "COURSEFORGE_OPENAI_API_KEY")
    )
    anthropic_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "COURSEFORGE_ANTHROPIC_API_KEY"),
    )

    local_model_path: str | None = Field(default=None, description="a GGUF file; default: SmolLM2")
    local_threads: int | None = Field(default=None, ge=1)
    local_context_tokens: int = Field(default=8192, ge=512)

    worker_concurrency: int = Field(
        default=4, ge=1, le=256, description="jobs a worker runs at once"
    )
    lease_s: float = Field(
        default=30.0, gt=0, description="a running job's lease; renewed every third"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="how often an idle worker looks")
    maintenance_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="how often a worker rescues expired leases and deletes old events",
    )
    retry_backoff_s: float = Field(
        default=2.0, gt=0, description="first wait before a lost job returns"
    )
    db_retry_max_s: float = Field(
        default=5.0,
        gt=0,
        description="longest wait between a loop's tries while the database is unreachable",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, le=20, description="runs lost with their worker before a job fails"
    )
    job_max_runs: int = Field(
        default=8,
        ge=1,
        le=50,
        description="runs of a job whose units give up (transient errors, invalid answers) "
        "before it fails; each retry waits a backoff and resumes from the checkpoints",
    )
    max_running_student: int = Field(default=1, ge=0, description="running jobs per student")
    max_running_teacher: int = Field(default=3, ge=0, description="running jobs per teacher")
    max_running_admin: int = Field(default=10, ge=0, description="running jobs per admin")
    max_running_per_organization: int = Field(default=50, ge=0)
    max_running_total: int = Field(default=100, ge=1, description="running jobs in all")
    jobs_per_hour_student: int = Field(
        default=3, ge=0, description="jobs a student may create per hour (each kind apart)"
    )
    jobs_per_hour_teacher: int = Field(
        default=20, ge=0, description="jobs a teacher may create per hour (each kind apart)"
    )
    jobs_per_hour_admin: int = Field(
        default=100, ge=0, description="jobs an admin may create per hour (each kind apart)"
    )
    shutdown_grace_s: float = Field(default=10.0, ge=0, description="time to finish on SIGTERM")
    retention_hours: float = Field(default=24.0, gt=0, description="keep events of finished jobs")

    api_only: bool = Field(
        default=False, description="serve without an in-process worker (for API replicas)"
    )
    api_max_body_bytes: int = Field(
        default=512 * 1024, ge=1024, description="largest request body the API accepts"
    )
    upload_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="largest uploaded source file (413 above)"
    )
    upload_max_pages: int = Field(
        default=200, ge=1, description="most pages an uploaded PDF may have"
    )
    sse_heartbeat_s: float = Field(default=15.0, gt=0, description="event-stream keep-alive")
    stream_tickets_per_user: int = Field(
        default=20, ge=1, le=1000, description="unused stream tickets a user may hold (429 above)"
    )
    auth_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="how long an API process remembers a token's user: a token revoked by "
        "another process works here that much longer (0: look it up on every request)",
    )
    session_idle_hours: float = Field(
        default=12.0, gt=0, description="a browser session ends after this long unused"
    )
    session_max_days: float = Field(
        default=7.0, gt=0, description="a browser session ends this long after the login"
    )
    login_failures_per_name: int = Field(
        default=5, ge=1, description="failed logins per account name in the window (429 above)"
    )
    login_failures_per_address: int = Field(
        default=20, ge=1, description="failed logins per client address in the window (429 above)"
    )
    login_failure_window_minutes: int = Field(
        default=15, ge=1, description="the window that failed logins are counted over"
    )
    csrf_secret: SecretStr | None = Field(
        default=None,
        description="signs the web UI's CSRF tokens; set the same one on every host "
        "that serves the web UI (unset: `serve` makes one for its own workers)",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="when set, /metrics requires Authorization: Bearer <this>"
    )
    event_sweep_s: float = Field(
        default=1.0, gt=0, description="how often the API looks for events without a hint"
    )

    log_level: str = Field(default="WARNING", description="DEBUG, INFO, WARNING or ERROR")
    log_json: bool = Field(default=False, description="JSON log lines (for services)")

    fake_latency_ms: float = Field(default=0.0, ge=0)
    fake_error_rate: float = Field(default=0.0, ge=0, le=1)
    fake_invalid_rate: float = Field(default=0.0, ge=0, le=1)
    fake_seed: int = 0
    fake_crash_on: str | None = Field(
        default=None, description="fault injection: the process dies on a prompt containing this"
    )

    @field_validator("llm_base_url", "openai_api_key", "anthropic_api_key", "llm_api_key")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
