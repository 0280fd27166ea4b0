"""ember.utils: hooks and (later) data loading and checkpoint helpers."""
