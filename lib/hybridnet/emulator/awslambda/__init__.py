"""Lambda Invoke that runs the function's deployed Python code without Docker
(models.py: the runner and the replacement of moto's invoke)."""
