"dep V1"
