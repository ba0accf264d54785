"""Adversarial attacks (PGD, APGD, Square) and the evaluation of any model under them."""
