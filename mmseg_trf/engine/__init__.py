"""Registered MMEngine hooks."""
from .hooks import TransferabilityHook, TrustCheckpointsHook

__all__ = ['TransferabilityHook', 'TrustCheckpointsHook']
