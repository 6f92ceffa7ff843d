# Test package for error location tracking
