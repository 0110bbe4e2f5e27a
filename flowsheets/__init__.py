"""Process flowsheets built from rexopt unit models (installed as rexopt.flowsheets)."""
