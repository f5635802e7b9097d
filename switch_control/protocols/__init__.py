"""Protocol clients for the switches (no Django): ``ari`` (Asterisk REST + events),
``ami`` (Asterisk Manager via panoramisk), ``esl`` (FreeSWITCH Event Socket)."""
