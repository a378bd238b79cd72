"""Loaders for real market data: Binance archives, recorded websocket streams, options chains."""
