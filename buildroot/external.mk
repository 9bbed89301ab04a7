include $(sort $(wildcard $(BR2_EXTERNAL_ZONEGATE_PATH)/package/*/*.mk))
