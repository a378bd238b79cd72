"""Where the cold tier keeps its files and how old a week must be to go there (SNIPER_COLD_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sniper.settings import get_settings

DEFAULT_HORIZON_WEEKS = 8


class ColdConfig(BaseSettings):
    """The cold tier's settings, from the environment (``SNIPER_COLD_STORE_URL``,
    ``SNIPER_COLD_HORIZON_WEEKS``) or given explicitly.

    ``store_url`` is a local directory or any fsspec URL (``s3://bucket/sniper-cold``, with
    the matching fsspec package installed); unset, ``<state dir>/cold``. A week goes cold when
    it starts ``horizon_weeks`` weeks or more before the week of the instrument's newest
    loaded event: the newest ``horizon_weeks`` weeks stay in PostgreSQL.
    """

    model_config = SettingsConfigDict(env_prefix="SNIPER_COLD_", extra="ignore", frozen=True)

    store_url: str | None = None
    horizon_weeks: int = Field(default=DEFAULT_HORIZON_WEEKS, ge=1, le=520)

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or str(get_settings().state_dir / "cold")
