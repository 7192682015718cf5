"""The hardware boundary. Nothing outside ``hal`` imports gpiozero, pyserial or picamera2."""
