from .transferability_hook import TransferabilityHook
from .trust_checkpoints_hook import TrustCheckpointsHook

__all__ = ['TransferabilityHook', 'TrustCheckpointsHook']
