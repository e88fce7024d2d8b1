"""The DeepMedix-R1 reproduction: data builders, rewards, SFT / cold-start / GRPO (issue 6)."""
