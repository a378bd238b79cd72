"""Typed settings, read once from the environment (prefix ``SNIPER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
# The package lives in ``python/`` of the project (an editable install maps it there).
DEFAULT_PROJECT_DIR = PACKAGE_DIR.parent


class Settings(BaseSettings):
    """Where the project lives and which database it talks to.

    With no ``database_url`` everything uses the embedded PostgreSQL cluster kept
    under ``data_dir``; with one, the same commands use that server instead.
    """

    model_config = SettingsConfigDict(env_prefix="SNIPER_", extra="ignore")

    database_url: SecretStr | None = None
    project_dir: Path = DEFAULT_PROJECT_DIR
    data_dir: Path | None = None
    database_name: str = "sniper"

    @property
    def state_dir(self) -> Path:
        return (self.data_dir or self.project_dir / ".sniper").resolve()

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def uses_embedded(self) -> bool:
        return self.database_url is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
