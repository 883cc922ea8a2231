"""Registered MMEngine hooks."""
from .hooks import TransferabilityHook

__all__ = ['TransferabilityHook']
