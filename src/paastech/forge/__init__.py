"""The forge: git push and clone over SSH, and the build a push of ``main`` starts.

Modules, from the outside in: ``server`` (asyncssh server, key auth against the database),
``session`` (one SSH channel: refuse or run one git command), ``commands`` (pure parsing of
that command), ``gitproc`` (the real ``git receive-pack``/``upload-pack`` piped to the
channel), ``pktline`` (just enough of git's wire format to speak on the sideband),
``push`` (what changed, what to tell the pusher), ``builds`` (Build rows, the queue and the
``Builder`` seam), ``detect`` and ``procfile`` (what to build when there is no Dockerfile),
``nomad_builder`` (the real builder: one Nomad batch job per build, specified by the pure
``build_job``, through the shared ``paastech.scheduler.nomad`` adapter), ``archive`` (the
one-time source URLs build jobs download the commit from), ``recovery`` (a starting forge
settles the builds a previous one left), ``deploy`` (the release a build becomes, followed
to live or failed on the pusher's terminal), ``outbox`` (repositories of deleted projects),
``source`` (the build context as one tarball, for local builds), ``progress`` (terminal
lines), ``repos`` (bare repositories on disk), ``context`` (what one forge process shares).
"""
