"""Registered MMSeg components."""
