"""Benchmarks: functions the scripts run at full size and the tests call at tiny sizes."""
