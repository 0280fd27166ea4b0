"""The built-in ops, one family per module; each op is a Function with its public function."""
