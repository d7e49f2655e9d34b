"""Websocket delivery of events to signed-in users (Channels consumers under /ws/)."""
