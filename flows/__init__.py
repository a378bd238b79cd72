"""Prefect flows (installed as ``sniper.flows``): one flow per module."""
