"""haproxy.cfg read into its sections and a backend's servers."""

from __future__ import annotations


def haproxy_sections(text):
    """{("backend", "vhostd"): [[word, ...], ...], ...}, comments out."""
    sections, current = {}, None
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if not line[0].isspace():
            current = (words[0], words[1] if len(words) > 1 else "")
            sections[current] = []
        elif current is not None:
            sections[current].append(words)
    return sections


def haproxy_servers(backend):
    """{name: (address, options)} with default-server's options first."""
    defaults = [w for words in backend if words[0] == "default-server" for w in words[1:]]
    return {words[1]: (words[2], defaults + words[3:]) for words in backend if words[0] == "server"}
