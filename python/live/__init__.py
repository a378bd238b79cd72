"""The live recorder (`sniper record`): Binance combined streams into raw.trades and raw.l1_quotes.

config (what to record and the bounds), connection (the websocket loop and its reconnects),
buffer (events between the two halves, bounded), writer (batches in one transaction with
their spans), coverage (the exchange time a span covers), spans (raw.recording_spans and the
ledger), status (the terminal's status line), recorder (all of it together). docs/live.md.
"""
