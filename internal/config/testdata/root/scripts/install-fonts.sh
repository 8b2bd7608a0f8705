#!/bin/sh
echo fonts
