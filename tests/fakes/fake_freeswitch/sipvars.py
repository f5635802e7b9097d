"""Channel variables of a SIP (mod_sofia) inbound leg, as the captures show them."""

from __future__ import annotations

from typing import Any

from .channels import now_us


def sip_inbound_vars(
    caller: str, callee: str, caller_name: str, addr: str, port: int, call_id: str
) -> dict[str, Any]:
    stamp = str(now_us())
    display = f'"{caller_name}" ' if caller_name else ""
    return {
        "sip_from_user": caller,
        "sip_from_port": str(port),
        "sip_from_uri": f"{caller}@{addr}:{port}",
        "sip_from_host": addr,
        "video_media_flow": "disabled",
        "text_media_flow": "disabled",
        "channel_name": f"sofia/lab/{caller}@{addr}:{port}",
        "sip_call_id": call_id,
        "sip_local_network_addr": "127.0.0.1",
        "sip_network_ip": addr,
        "sip_network_port": str(port),
        "sip_invite_stamp": stamp,
        "sip_received_ip": addr,
        "sip_received_port": str(port),
        "sip_via_protocol": "udp",
        "sip_from_user_stripped": caller,
        "sip_from_tag": f"{port}SIPpTag001",
        "sofia_profile_name": "lab",
        "sofia_profile_url": "sip:mod_sofia@127.0.0.1:5080",
        "recovery_profile_name": "lab",
        "sip_full_via": f"SIP/2.0/UDP {addr}:{port};branch=z9hG4bK-{port}-1-0",
        "sip_from_display": caller_name,
        "sip_full_from": f"{display}<sip:{caller}@{addr}:{port}>;tag={port}SIPpTag001",
        "sip_full_to": f"<sip:{callee}@127.0.0.1:5080>",
        "sip_req_user": callee,
        "sip_req_port": "5080",
        "sip_req_uri": f"{callee}@127.0.0.1:5080",
        "sip_req_host": "127.0.0.1",
        "sip_to_user": callee,
        "sip_to_port": "5080",
        "sip_to_uri": f"{callee}@127.0.0.1:5080",
        "sip_to_host": "127.0.0.1",
        "sip_contact_user": caller,
        "sip_contact_port": str(port),
        "sip_contact_uri": f"{caller}@{addr}:{port}",
        "sip_contact_host": addr,
        "sip_via_host": addr,
        "sip_via_port": str(port),
        "max_forwards": "70",
        "switch_r_sdp": (
            f"v=0\r\no=caller 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n"
            "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
        ),
        "ep_codec_string": "CORE_PCM_MODULE.PCMU@8000h@20i@64000b",
        "rtp_use_codec_string": "PCMU,PCMA",
        "remote_audio_media_flow": "sendrecv",
        "audio_media_flow": "sendrecv",
        "remote_media_ip": addr,
        "remote_media_port": "6000",
        "rtp_use_codec_name": "PCMU",
        "rtp_use_codec_rate": "8000",
        "rtp_use_codec_ptime": "20",
        "read_codec": "PCMU",
        "read_rate": "8000",
        "write_codec": "PCMU",
        "write_rate": "8000",
        "dtmf_type": "rfc2833",
        "endpoint_disposition": "RECEIVED",
    }
