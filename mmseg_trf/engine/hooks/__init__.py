from .transferability_hook import TransferabilityHook

__all__ = ['TransferabilityHook']
