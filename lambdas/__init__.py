"""Thin AWS Lambda entry points: parse the event, call a domain function, format the reply."""
