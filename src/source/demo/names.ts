/** Word lists for demo player and team names. */

export const FIRST_NAMES: readonly string[] = [
  'Aaron', 'Adrian', 'Alex', 'Andre', 'Anthony', 'Austin', 'Brandon', 'Brian', 'Caleb', 'Cameron',
  'Chris', 'Cole', 'Connor', 'Cooper', 'Dak', 'Dalton', 'Damien', 'Daniel', 'Darius', 'David',
  'Derek', 'DeShawn', 'Devin', 'Drew', 'Dylan', 'Elijah', 'Eric', 'Ethan', 'Evan', 'Gabriel',
  'Garrett', 'Hunter', 'Isaiah', 'Jack', 'Jalen', 'Jamal', 'Jaylen', 'Jordan', 'Josh', 'Justin',
  'Kareem', 'Keenan', 'Kyle', 'Lamar', 'Logan', 'Lucas', 'Malik', 'Marcus', 'Mason', 'Matt',
  'Micah', 'Mike', 'Nate', 'Nico', 'Noah', 'Owen', 'Patrick', 'Quentin', 'Rashad', 'Ryan',
  'Sam', 'Terrell', 'Travis', 'Trey', 'Tyler', 'Tyreek', 'Victor', 'Xavier', 'Zach', 'Zion',
];

export const LAST_NAMES: readonly string[] = [
  'Adams', 'Allen', 'Anderson', 'Baker', 'Barnes', 'Bell', 'Bennett', 'Brooks', 'Brown', 'Bryant',
  'Campbell', 'Carter', 'Clark', 'Coleman', 'Collins', 'Cook', 'Cooper', 'Davis', 'Diggs', 'Edwards',
  'Evans', 'Fisher', 'Foster', 'Freeman', 'Garcia', 'Gibson', 'Graham', 'Green', 'Griffin', 'Hall',
  'Harris', 'Hayes', 'Henderson', 'Hill', 'Howard', 'Hughes', 'Jackson', 'James', 'Jenkins', 'Johnson',
  'Jones', 'Kelly', 'King', 'Lewis', 'Marshall', 'Martin', 'McCaffrey', 'Miller', 'Mitchell', 'Moore',
  'Morgan', 'Murphy', "O'Connell", 'Parker', 'Patterson', 'Perry', 'Peterson', 'Reed', 'Richardson', 'Robinson',
  'Rodgers', 'Ross', 'Russell', 'Sanders', 'Scott', 'Simmons', 'St. Brown', 'Stewart', 'Sullivan', 'Taylor',
  'Thomas', 'Thompson', 'Turner', 'Walker', 'Ward', 'Washington', 'Watson', 'White', 'Williams', 'Wilson',
  'Wright', 'Young', 'Núñez', 'Žagar',
];

export const TEAM_PREFIXES: readonly string[] = [
  'Blitzburgh', 'Gridiron', 'Hail Mary', 'Red Zone', 'Sunday', 'Fourth Down', 'Two-Point', 'Pick Six',
  'Endzone', 'Waiver Wire', 'Bye Week', 'Fantasy', 'Goal Line', 'Hash Mark', 'Audible', 'Shotgun',
  'Hometown', 'Lakeside', 'Midtown', 'Northside', 'Old School', 'Brooklyn', 'Motor City', 'Bayou',
  'Desert', 'Mile High', 'Gotham', 'Springfield', 'San Antonio', 'Señor', 'Müller Time', 'Big Easy',
];

export const TEAM_NOUNS: readonly string[] = [
  'Bandits', 'Gurus', 'Heroes', 'Warriors', 'Ballers', 'Sackers', 'Blitzers', 'Gunslingers',
  'Outlaws', 'Mavericks', 'Renegades', 'Titans', 'Crushers', 'Wolves', 'Ravens', 'Stallions',
  'Hustlers', 'Legends', 'Nomads', 'Pirates', 'Raiders', 'Sharks', 'Storm', 'Thunder',
  'Vipers', 'Wizards', 'Dynasty', 'Dream Team', 'Süpürs', 'Juggernauts', 'Underdogs', 'Punters',
];
