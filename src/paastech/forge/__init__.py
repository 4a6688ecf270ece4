"""The forge: git push and clone over SSH, and the build a push of ``main`` starts.

Modules, from the outside in: ``server`` (asyncssh server, key auth against the database),
``session`` (one SSH channel: refuse or run one git command), ``commands`` (pure parsing of
that command), ``gitproc`` (the real ``git receive-pack``/``upload-pack`` piped to the
channel), ``pktline`` (just enough of git's wire format to speak on the sideband),
``push`` (what changed, what to tell the pusher), ``builds`` (Build rows and the ``Builder``
seam), ``detect`` (what to build when there is no Dockerfile), ``source`` (the build
context a backend ships to ``docker build``), ``progress`` (terminal lines), ``repos``
(bare repositories on disk), ``context`` (what one forge process shares).
"""
