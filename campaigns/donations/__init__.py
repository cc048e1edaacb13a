"""Donations through Stripe: one-off gifts (PaymentIntents) and monthly gifts (Subscriptions)."""
