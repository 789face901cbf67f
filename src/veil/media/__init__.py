"""Reading and writing image and video files."""
