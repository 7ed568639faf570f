"""Fakes of the DNS provider APIs (local HTTP servers on 127.0.0.1) and their test harnesses."""
