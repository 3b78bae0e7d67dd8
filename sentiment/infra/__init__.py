"""What the stages share: lifecycle locks, durable copies, relocation, result files and
formula-safe CSV.
"""
