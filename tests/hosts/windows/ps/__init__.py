"""PowerShell subset interpreter of the Windows host emulator."""
