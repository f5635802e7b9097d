"""Pure call logic (no I/O, no Django): the call state machine and the default policy."""
