"""The hardware boundary. Nothing outside ``roadcam.hal`` imports gpiozero, pyserial or picamera2."""
