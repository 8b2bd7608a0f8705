"data2 V1"
