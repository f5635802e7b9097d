"""FreeSWITCH driver: ``CallControl`` over the Event Socket (inbound ESL, SW-1).

Design
------

**Calls and legs.** The dialplan (``freeswitch_conf/dialplan``) parks every call; the
driver offers a leg when it sees its CHANNEL_PARK and the leg id is FreeSWITCH's
``Unique-ID``. One ``call_id`` per customer call, as on Asterisk: an inbound caller's call
id is its own uuid; legs we dial are created with ``origination_uuid=<leg id>`` (the caller
chooses it, so a redelivered command names the same leg) and the channel variables
``cc_call_id`` / ``cc_role``, so ``show channels as json`` + ``uuid_dump`` rebuild the leg
table after a controller restart. ``bgapi originate`` is used (the api form blocks until
answer); ``originate()`` returns once CHANNEL_CREATE of the leg arrived: failures before a
channel exists (USER_NOT_REGISTERED, no route) raise ``OriginateFailed`` with
FreeSWITCH's cause, failures after (USER_BUSY, NO_ANSWER, CALL_REJECTED) are the leg's
CallEnded with that cause, like a busy phone on Asterisk.

**Bridges are conference rooms.** Bridge ``X`` is the mod_conference room ``cc-X`` (profile
``threeway``), rather than ``uuid_bridge`` pairs, because one mechanism then covers every
case: 2 parties, 3-way and barge (a third member), moving a leg between bridges (attended
transfer: consult room, back home or on to the customer), intercept/pickup (the new leg
joins, the replaced one is hung up — PICKED_OFF if it was still ringing), hold (the
member's conference ``hold`` with ``local_stream://moh``: it hears music and is not heard)
and recording the whole call (the room's ``recording start``). A ``uuid_bridge`` pair would
need a different operation for each, and a third party means rebuilding the call anyway.
A leg enters a room by ``uuid_transfer <uuid> conference:cc-X@threeway,park inline`` (it
leaves whatever it was doing, even another room; if it is kicked it parks again instead of
hanging up); a leg we dial into a room is originated straight to that inline extension and
joins on answer. add-member / del-member events give CallBridged / CallUnbridged.

**Supervision.** The supervisor's leg runs ``eavesdrop`` on the agent's channel (hears the
agent and what the agent hears); whisper sets ``eavesdrop_whisper_aleg`` so the
supervisor's voice goes to the agent only; DTMF mode switching is disabled.

**Markers** (``leg_existed``): an originated leg carries ``api_on_originate=global_setvar
cc_leg_<id>=1``, so the switch itself records, when it creates the channel, that the leg
existed — nothing is written before FreeSWITCH really dialled. ``leg_existed`` answers from
the live table, then that global variable, then ``uuid_exists`` (inbound legs). The driver
clears a marker ``marker_ttl`` seconds after the leg ended (a controller that dies first
leaves it: a few bytes until FreeSWITCH restarts).

**End records.** Every leg gets ``api_reporting_hook=global_setvar
cc_end_<id>=${end_epoch}:${hangup_cause_q850}`` with ``uuid_setvar``: an inbound leg when
it is offered, a leg we dial as soon as its CHANNEL_CREATE arrives (or reconciliation finds
it). It cannot go among the originate's ``{...}`` variables: FreeSWITCH refuses a value
with ``${`` there (``check_vars`` in ``switch_ivr_originate.c``: a CRIT log line, the
variable dropped, the call goes on; ``brace_vars`` refuses such values for the same
reason), and ``origination_nested_vars=true`` would lift that check for every variable of
the call. The price is a window: a leg that ends before its ``uuid_setvar`` lands keeps no
end record (the command answers ``-ERR No such channel``). While connected that costs
nothing, the leg's own CHANNEL_HANGUP_COMPLETE reports the end; only a controller that
loses the switch in those few milliseconds as well reports that leg SWITCH_LOST.

**Reconciliation** (on every (re)connection). ``show channels as json`` is filled
asynchronously from the core's database: a new leg appears in it 77-151 ms after its
CHANNEL_CREATE, and a leg that is gone (``uuid_exists`` false) can still be listed as
ACTIVE for a while. So it is only where to look: each leg we knew is asked about
(``uuid_exists`` if listed, ``uuid_dump`` if not). Known legs that are gone ended while we
could not see them: a CallEnded with the end the switch kept (``global_getvar
cc_end_<id>``) or SWITCH_LOST when it kept none (FreeSWITCH itself restarted). Unknown
channels it lists that are ours (``cc_call_id``/``cc_direction``, or parked/in a
conference) are adopted from their ``uuid_dump`` (which also proves they exist), and
``list_settle`` seconds later a second look adopts those it listed too late the first
time; ``conference json_list`` restores bridge membership. ``restore`` seeds the table
with the legs the controller persisted, before ``start``. ``list_legs`` is the table (kept
by the event stream), with what ``show channels`` says of each leg; a leg it does not list
yet is confirmed with ``uuid_exists``. ``global_getvar`` of an unset variable answers
``-ERR no reply`` (every api command with no output does): read as unset.

**Phones.** ``endpoint_online`` asks ``sofia_contact */<ext>@<domain>`` (what ``user/``
dials); ``sofia::register``/``unregister``/``expire`` events are EndpointStatusChanged.

**Media.** ``sound:NAME`` -> ``NAME.wav`` (under ``sounds_dir``, else FreeSWITCH's sound
prefix), ``file:/path``, ``tone:SPEC`` -> ``tone_stream://`` (Asterisk indications
translated to teletone), ``digits:``/``number:`` -> ``say``, ``recording:NAME``. Each item is
a ``sendmsg execute`` with our ``Event-UUID``; PlaybackFinished when the last completes.
Recordings are files under ``recordings_dir``, read back from the same host.

Errors: ``-ERR No such channel`` and the like are ``NoSuchCall``, other ``-ERR``
``CommandRejected``, connection problems ``SwitchUnavailable`` (the ESL client maps them).
"""

from .core import FreeSwitchConfig, marker
from .driver import FreeSwitchDriver
from .media import MediaConfig

__all__ = ["FreeSwitchConfig", "FreeSwitchDriver", "MediaConfig", "marker"]
