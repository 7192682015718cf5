"""One module per rule. Each rule watches placed vehicles frame by frame (``step``) and turns
what it saw into violations when the vehicle's track ends (``finish``), when its movement and
plate are known."""
