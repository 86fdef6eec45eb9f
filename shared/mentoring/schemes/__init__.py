"""Scheme definitions: the YAML files beside this module, validated by :mod:`mentoring.scheme`."""
