"""Drivers over the pure packages that need no running worker: traffic simulation, file
analysis and replay."""
